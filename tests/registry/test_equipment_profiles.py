"""Equipment profiles (issue 11 item 4): what each equipment model is, edited with history,
and the rules fallback judging each device by its own model's limits."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command

from fleetmon.registry.models import (
    Cohort,
    Device,
    EquipmentProfile,
    EquipmentProfileHistory,
    Site,
)
from fleetmon.registry.profiles import DEFAULT_PROFILES, ProfileData, profiles_for_devices
from fleetmon.registry.services import equipment_profiles_seed
from fleetmon.sensors import SENSOR_NAMES
from scoring.models import DeviceFeatures, ModelScore
from scoring.services.runs import run_create, run_shard_ids, shard_score
from tests.registry.console_cast import api_as, cast_of_roles

pytestmark = pytest.mark.django_db

URL = "/api/v1/equipment-profiles/"
NEW = {
    "equipment_model": "RI-1HP",
    "description": "reach-in cooler",
    "sensors": [s for s in SENSOR_NAMES if s not in ("vibration_compressor", "humidity")],
    "defrost_type": "off_cycle",
    "defrost_interval_hours": 6,
    "defrost_max_minutes": 30,
    "product_class": "chilled",
    "normal_ranges": {"temperature_evaporator": {"low": -12, "high": 4}},
    "reason": "new reach-in line at the downtown stores",
}


@pytest.fixture
def cast():
    return cast_of_roles()


@pytest.fixture
def seeded():
    equipment_profiles_seed(actor="seed")


# ---------------------------------------------------------------- API: who may do what


def test_every_role_reads_the_profiles_and_strangers_do_not(cast, seeded):
    answer = api_as(cast["operator_a"]).get(URL)
    assert answer.status_code == 200
    assert [p["equipment_model"] for p in answer.json()] == ["DC-2HP", "DF-3HP", "WC-3HP", "WF-5HP"]
    freezer = api_as(cast["manager"]).get(f"{URL}WF-5HP/").json()
    assert freezer["product_class"] == "frozen"
    assert freezer["normal_ranges"]["temperature_evaporator"] == {"low": -35.0, "high": -10.0}
    assert api_as(None).get(URL).status_code in (401, 403)
    assert api_as(cast["operator_a"]).get(f"{URL}XX-9HP/").status_code == 404


@pytest.mark.parametrize("who", ["operator_a", "manager"])
def test_operators_and_managers_may_not_write(cast, seeded, who):
    client = api_as(cast[who])
    created = client.post(URL, NEW, format="json")
    changed = client.patch(
        f"{URL}WF-5HP/", {"defrost_max_minutes": 50, "reason": "x"}, format="json"
    )
    for answer in (created, changed):
        assert answer.status_code == 403
        assert (
            answer.json()["detail"] == "only ML engineers and admins may change equipment profiles"
        )
    assert not EquipmentProfile.objects.filter(pk="RI-1HP").exists()


def test_ml_engineers_create_and_admins_change_each_with_a_history_row(cast, seeded):
    created = api_as(cast["ml_engineer"]).post(URL, NEW, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["updated_by"] == "ml_engineer"

    changed = api_as(cast["admin"]).patch(
        f"{URL}RI-1HP/",
        {
            "defrost_type": "none",
            "defrost_interval_hours": None,
            "defrost_max_minutes": None,
            "reason": "these units never frost up",
        },
        format="json",
    )
    assert changed.status_code == 200, changed.json()
    assert changed.json()["defrost_type"] == "none"
    assert changed.json()["description"] == "reach-in cooler"  # not given: kept

    history = api_as(cast["operator_a"]).get(f"{URL}RI-1HP/history/").json()
    assert [(h["action"], h["changed_by"], h["reason"]) for h in history] == [
        ("updated", "admin", "these units never frost up"),
        ("created", "ml_engineer", "new reach-in line at the downtown stores"),
    ]
    update = history[0]
    assert update["old_values"]["defrost_type"] == "off_cycle"
    assert update["new_values"]["defrost_type"] == "none"
    assert update["old_values"]["defrost_interval_hours"] == 6
    assert update["new_values"]["defrost_interval_hours"] is None
    assert history[1]["old_values"] is None


def test_a_change_that_changes_nothing_writes_no_history(cast, seeded):
    before = EquipmentProfileHistory.objects.count()
    same = api_as(cast["admin"]).patch(
        f"{URL}WF-5HP/", {"defrost_max_minutes": 45, "reason": "checking"}, format="json"
    )
    assert same.status_code == 200
    assert EquipmentProfileHistory.objects.count() == before


def test_put_replaces_the_whole_profile_and_refuses_a_rename(cast, seeded):
    admin = api_as(cast["admin"])
    body = {**NEW, "equipment_model": "WC-3HP", "reason": "refitted"}
    replaced = admin.put(f"{URL}WC-3HP/", body, format="json")
    assert replaced.status_code == 200, replaced.json()
    assert replaced.json()["sensors"] == NEW["sensors"]
    renamed = admin.put(f"{URL}WC-3HP/", {**body, "equipment_model": "WC-4HP"}, format="json")
    assert renamed.status_code == 400
    assert renamed.json() == {"equipment_model": ["does not match the URL (WC-3HP): no renaming"]}
    twice = admin.post(URL, {**NEW, "equipment_model": "WC-3HP"}, format="json")
    assert twice.json() == {
        "equipment_model": ["a profile of this model exists; change it with PUT or PATCH"]
    }


# ---------------------------------------------------------------- API: bad input


def test_wrong_types_are_refused_per_field(cast):
    answer = api_as(cast["ml_engineer"]).post(
        URL,
        {
            **NEW,
            "sensors": ["temp_evap"],
            "defrost_type": "laser",
            "reason": " ",
            "normal_ranges": {"humidity": {"low": "dry", "high": 90}},
        },
        format="json",
    )
    assert answer.status_code == 400
    errors = answer.json()
    assert set(errors) == {"sensors", "defrost_type", "reason", "normal_ranges"}
    assert errors["reason"] == ["a reason is required"]
    assert errors["defrost_type"] == ['"laser" is not a valid choice.']
    assert errors["normal_ranges"] == {"humidity": {"low": ["A valid number is required."]}}
    assert not EquipmentProfile.objects.exists()


def test_impossible_values_are_refused_per_field_and_nothing_is_stored(cast):
    answer = api_as(cast["ml_engineer"]).post(
        URL,
        {
            **NEW,
            "equipment_model": "RI/1HP",
            "defrost_interval_hours": 30,
            "defrost_max_minutes": None,
            "normal_ranges": {
                "temperature_evaporator": {"low": 4, "high": -12},
                "pressure_low_side": {"low": 20, "high": 400},
                "humidity": {"low": 40, "high": 90},
                "door_open_close": {"low": 0, "high": 1},
            },
        },
        format="json",
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "equipment_model": [
            "1-32 letters, digits, '.', '_' or '-', starting with a letter or digit"
        ],
        "defrost_interval_hours": ["between 1.5 and 24 h, not 30"],
        "defrost_max_minutes": ["required for equipment that defrosts"],
        "normal_ranges": {
            "temperature_evaporator": ["low (4) must be below high (-12)"],
            "pressure_low_side": ["20..400 leaves the sensor's valid range 50..800 kPa"],
            "humidity": ["not a sensor of this equipment model"],
            "door_open_close": ["a boolean sensor has no range"],
        },
    }
    assert not EquipmentProfile.objects.exists()
    assert not EquipmentProfileHistory.objects.exists()


def test_equipment_that_does_not_defrost_has_no_defrost_timing(cast):
    answer = api_as(cast["ml_engineer"]).post(URL, {**NEW, "defrost_type": "none"}, format="json")
    assert answer.json() == {
        "defrost_interval_hours": ["must be empty: the equipment does not defrost"],
        "defrost_max_minutes": ["must be empty: the equipment does not defrost"],
    }


# ---------------------------------------------------------------- admin


def test_the_admin_edits_a_profile_with_a_reason_and_checks_it_like_the_api(cast, seeded, client):
    cast["admin"].is_staff = cast["admin"].is_superuser = True
    cast["admin"].save()
    client.force_login(cast["admin"])
    page = "/admin/registry/equipmentprofile/DC-2HP/change/"
    form = {
        "description": "medium-temperature display case",
        "sensors": ",".join(SENSOR_NAMES),
        "defrost_type": "off_cycle",
        "defrost_interval_hours": "8",
        "defrost_max_minutes": "40",
        "product_class": "chilled",
        "normal_ranges": '{"temperature_evaporator": {"low": -15, "high": 5}}',
        "change_reason": "night covers: fewer defrosts",
    }
    refused = client.post(page, {**form, "defrost_interval_hours": "48"})
    assert refused.status_code == 200
    assert "between 1.5 and 24 h, not 48" in refused.content.decode()

    saved = client.post(page, form)
    assert saved.status_code == 302
    assert EquipmentProfile.objects.get(pk="DC-2HP").defrost_interval_hours == 8
    change = EquipmentProfileHistory.objects.filter(equipment_model="DC-2HP").first()
    assert (change.action, change.changed_by, change.reason) == (
        "updated",
        "admin",
        "night covers: fewer defrosts",
    )


def test_seed_demo_creates_the_four_profiles_once_and_keeps_edits(cast):
    call_command("seed_demo", verbosity=0)
    assert set(EquipmentProfile.objects.values_list("pk", flat=True)) == set(DEFAULT_PROFILES)
    EquipmentProfile.objects.filter(pk="WF-5HP").update(defrost_max_minutes=50)
    call_command("seed_demo", verbosity=0)
    assert EquipmentProfile.objects.get(pk="WF-5HP").defrost_max_minutes == 50
    assert EquipmentProfileHistory.objects.count() == 4


# ---------------------------------------------------------------- the selector


def register(model: str, number: int) -> Device:
    site, _ = Site.objects.get_or_create(
        site_id="SITE-US-PRO-0001",
        defaults={"site_name": "Profile store", "region": "US-W", "climate_zone": "temperate"},
    )
    cohort, _ = Cohort.objects.get_or_create(
        cohort_id=Cohort.id_for(model, "temperate"),
        defaults={"equipment_model": model, "climate_zone": "temperate"},
    )
    return Device.objects.create(
        device_id=f"REF-PRO-{number:05d}",
        site=site,
        cohort=cohort,
        region="US-W",
        equipment_model=model,
        install_date=date(2022, 1, 1),
        firmware_version="5.0.1",
    )


def test_profiles_for_devices_gives_each_device_its_model_s_profile_or_none(seeded):
    case, freezer, odd = register("DC-2HP", 1), register("WF-5HP", 2), register("XX-9HP", 3)

    profiles = profiles_for_devices(device_ids=[case.pk, freezer.pk, odd.pk, "REF-NOPE"])

    assert profiles[odd.pk] is None and profiles["REF-NOPE"] is None
    assert isinstance(profiles[case.pk], ProfileData)
    assert profiles[case.pk].product_class == "chilled"
    assert profiles[case.pk].defrosts and profiles[case.pk].defrost_type == "off_cycle"
    assert profiles[freezer.pk].normal_ranges["temperature_evaporator"] == (-35.0, -10.0)
    assert profiles[freezer.pk].has_sensor("vibration_compressor")


# ---------------------------------------------------------------- the rules fallback

WINDOW_END = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def window(device: Device, evaporator_mean: float) -> DeviceFeatures:
    """A 15-minute window that is normal apart from its evaporator mean."""
    return DeviceFeatures(
        device_id=device.pk,
        window_start=WINDOW_END - timedelta(minutes=15),
        window_end=WINDOW_END,
        window_duration_minutes=15,
        reading_count=15,
        sensor_completeness=1.0,
        quality_flag_count=0,
        temp_evaporator_mean=evaporator_mean,
        vibration_compressor_max=3.0,
        pressure_low_mean=300.0,
        current_compressor_max=5.0,
        defrost_active_fraction=0.0,
    )


def test_the_fallback_takes_its_limits_from_the_device_s_profile(seeded, settings, tmp_path):
    settings.FLEETMON_ARTIFACT_DIR = str(tmp_path)
    devices = {
        "medium-temperature case at -2 °C": (register("DC-2HP", 1), -2.0, False),
        "freezer at -2 °C": (register("WF-5HP", 2), -2.0, True),
        "unprofiled unit at -2 °C": (register("XX-9HP", 3), -2.0, False),
        "unprofiled unit at +1 °C": (register("XX-9HP", 4), 1.0, True),  # §4.5: > 0 °C
    }
    DeviceFeatures.objects.bulk_create(window(d, evap) for d, evap, _ in devices.values())

    run = run_create(trigger="on_demand", window_end=WINDOW_END, requested_by="t")
    for shard_id in run_shard_ids(run):
        shard_score(shard_id=shard_id)

    flags = dict(ModelScore.objects.filter(run_id=run.pk).values_list("device_id", "anomaly_flag"))
    assert {label: flags[d.pk] for label, (d, _, _) in devices.items()} == {
        label: expected for label, (_, _, expected) in devices.items()
    }
    freezer = ModelScore.objects.get(run_id=run.pk, device_id=devices["freezer at -2 °C"][0].pk)
    assert freezer.top_contributors == ["temp_evaporator_mean"]
