"""Routes: see the module that owns them."""

urlpatterns: list = []
