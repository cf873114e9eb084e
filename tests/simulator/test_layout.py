"""The fleet layout: ids, sites, climates, equipment, sensors and drawn parameters."""

import re
from collections import Counter

import numpy as np

from fleetmon.sensors import SENSOR_NAMES
from fleetmon.simulator.fleet import PROFILES, REGIONS, make_fleet
from fleetmon.simulator.profiles import DefrostKind

VIBRATION = "vibration_compressor"
HUMIDITY = "humidity"


def test_make_fleet_is_deterministic_for_a_seed():
    assert make_fleet(50, seed=7) == make_fleet(50, seed=7)
    assert make_fleet(50, seed=7) != make_fleet(50, seed=8)


def test_device_and_site_ids_match_their_formats(fleet):
    assert len({d.device_id for d in fleet.devices}) == len(fleet.devices)
    for device in fleet.devices:
        assert re.fullmatch(r"REF-US-[WCES]-\d{8}", device.device_id)
        assert device.device_id.startswith(f"REF-{device.region}-")
    for site in fleet.sites:
        assert re.fullmatch(r"SITE-US-[A-Z]{3}-\d{4}", site.site_id)
    assert {d.site_id for d in fleet.devices} <= {s.site_id for s in fleet.sites}


def test_all_regions_are_represented_from_forty_devices():
    layout = make_fleet(40, seed=3)
    assert {d.region for d in layout.devices} == set(REGIONS)
    assert {s.region for s in layout.sites} == set(REGIONS)


def test_devices_share_their_sites_region_climate_and_clock(fleet):
    for device in fleet.devices:
        site = fleet.site(device.site_id)
        assert (device.region, device.climate_zone) == (site.region, site.climate_zone)
        assert device.utc_offset_h == site.utc_offset_h
    assert {len(fleet.devices_at(s.site_id)) for s in fleet.sites} == {12}


def test_the_four_equipment_models_keep_their_ids_and_defrost_styles():
    assert set(PROFILES) == {"WF-5HP", "WC-3HP", "DC-2HP", "DF-3HP"}
    assert PROFILES["WF-5HP"].defrost is DefrostKind.ELECTRIC
    assert PROFILES["WC-3HP"].defrost is DefrostKind.OFF_CYCLE
    assert PROFILES["DC-2HP"].defrost is DefrostKind.NONE
    assert PROFILES["DF-3HP"].defrost is DefrostKind.HOT_GAS
    layout = make_fleet(400, seed=2)
    assert set(Counter(d.equipment_model for d in layout.devices)) == set(PROFILES)
    assert {d.defrost_interval_min for d in layout.devices if d.equipment_model == "DC-2HP"} == {0}


def test_no_two_devices_of_a_model_are_alike():
    layout = make_fleet(200, seed=5)
    freezers = [d.physics for d in layout.devices if d.equipment_model == "WF-5HP"]
    for field in ("capacity_w", "c_air", "approach_k", "rated_amps", "vib_run"):
        values = np.array([getattr(p, field) for p in freezers])
        assert len(set(values.round(6))) == len(values), field
        assert values.std() > 0.03 * values.mean(), field
    set_points = np.array([p.set_c for p in freezers])
    assert np.ptp(set_points) > 1.0


def test_set_points_match_the_product_each_model_holds():
    layout = make_fleet(300, seed=6)
    for device in layout.devices:
        set_c = device.physics.set_c
        if device.equipment_model == "WF-5HP":
            assert -22.5 <= set_c <= -20.5
        elif device.equipment_model == "WC-3HP":
            assert 1.5 <= set_c <= 3.0
        cut_in = set_c + device.physics.band_k / 2
        assert cut_in < device.safe_limit_c - 0.5, device.device_id


def test_oldest_units_lack_whole_sensors_for_life():
    layout = make_fleet(400, seed=5)
    lacking = {d.device_id: set(SENSOR_NAMES) - set(d.sensors) for d in layout.devices}
    no_vibration = [i for i, gone in lacking.items() if VIBRATION in gone]
    no_humidity = [i for i, gone in lacking.items() if HUMIDITY in gone]
    both = [i for i, gone in lacking.items() if gone == {VIBRATION, HUMIDITY}]
    assert len(no_vibration) == 40  # about 10 %
    assert 0 < len(no_humidity) < len(no_vibration) + 10
    assert both
    assert all(gone <= {VIBRATION, HUMIDITY} for gone in lacking.values())
    installed = {d.device_id: d.install_date for d in layout.devices}
    complete = [installed[i] for i, gone in lacking.items() if not gone]
    assert max(installed[i] for i in both) <= min(complete)
    assert max(installed[i] for i in no_vibration) <= min(complete)


def test_cohorts_group_devices_by_model_and_climate(fleet):
    cohorts = fleet.cohorts()
    assert sum(len(ids) for ids in cohorts.values()) == len(fleet.devices)
    for (model, zone), ids in cohorts.items():
        assert {fleet.device(i).cohort for i in ids} == {(model, zone)}
    device = fleet.devices[0]
    assert device.has("temperature_evaporator")
