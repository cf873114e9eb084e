from django.db import migrations

# UPDATE and DELETE are refused unless the session sets fleetmon.regression_rebuild = on
# (only `manage.py build_regression_set --replace` does). TRUNCATE is not trapped: it is
# an administrator's tool, and the test runner empties tables with it between tests.
FORWARD = """
CREATE FUNCTION regression_features_read_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('fleetmon.regression_rebuild', true) = 'on' THEN
        RETURN COALESCE(NEW, OLD);
    END IF;
    RAISE EXCEPTION 'regression_test_features is read-only; rebuild it with '
                    'manage.py build_regression_set --replace';
END $$;
CREATE TRIGGER regression_features_read_only
    BEFORE UPDATE OR DELETE ON regression_test_features
    FOR EACH ROW EXECUTE FUNCTION regression_features_read_only();
"""
BACKWARD = """
DROP TRIGGER regression_features_read_only ON regression_test_features;
DROP FUNCTION regression_features_read_only();
"""


class Migration(migrations.Migration):
    dependencies = [("scoring", "0004_validation_and_regression_set")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
