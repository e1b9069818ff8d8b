from pathlib import Path

import pytest

from config import Settings, SettingsError, load_settings


def test_defaults_load_and_every_field_is_described():
    s = load_settings({})
    assert s.mmu_ha == 0.5
    assert s.store_url.endswith("ecowatch.gpkg")
    for name, field in Settings.model_fields.items():
        assert field.description, name


def test_environment_overrides_defaults():
    s = load_settings({"ECOWATCH_MMU_HA": "1.5", "ECOWATCH_INVALID_SCL_CLASSES": "9, 3,8", "PATH": "/bin"})
    assert s.mmu_ha == 1.5
    assert s.invalid_scl_classes == (3, 8, 9)


@pytest.mark.parametrize(
    ("env", "key", "reason"),
    [
        ({"ECOWATCH_MMU_HA": "abc"}, "ECOWATCH_MMU_HA", "valid number"),
        ({"ECOWATCH_MMU_HA": "-1"}, "ECOWATCH_MMU_HA", "greater than 0"),
        ({"ECOWATCH_PORT": "70000"}, "ECOWATCH_PORT", "less than or equal"),
        ({"ECOWATCH_INVALID_SCL_CLASSES": "3,12"}, "ECOWATCH_INVALID_SCL_CLASSES", "0..11"),
        ({"ECOWATCH_MMUHA": "1"}, "ECOWATCH_MMUHA", "not a setting"),
        ({"ECOWATCH_LOG_LEVEL": "LOUD"}, "ECOWATCH_LOG_LEVEL", "DEBUG"),
    ],
)
def test_bad_value_names_the_key(env, key, reason):
    with pytest.raises(SettingsError) as info:
        load_settings(env)
    assert info.value.key == key
    assert key in str(info.value)
    assert reason in str(info.value)


def test_bad_defaults_file_names_it(tmp_path: Path):
    bad = tmp_path / "defaults.toml"
    bad.write_text("mmu_ha = 'x'\n")
    with pytest.raises(SettingsError, match="mmu_ha in defaults.toml"):
        load_settings({}, defaults_file=bad)


def test_overrides_win_and_settings_are_frozen(tmp_path: Path):
    s = load_settings({"ECOWATCH_DATA_DIR": "/nowhere"}, data_dir=tmp_path)
    assert s.data_dir == tmp_path
    with pytest.raises(ValueError):
        s.mmu_ha = 3  # type: ignore[misc]
