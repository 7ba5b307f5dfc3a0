"""Our options work written `--opt VALUE` as well as `--opt=VALUE`: pytest picks its rootdir and ini
file before it loads plugins, so the value of `--kubeconfig FILE` looked like a test path to it and a
run from a checkout lost the project's configuration (NoScenariosFound under the value's folder)."""

from __future__ import annotations

import copy
import inspect
from typing import Any

import pytest
from _pytest.config.findpaths import determine_setup


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    # Called once every plugin's options are known and before conftests and collection use the rootdir:
    # the place to decide the setup again with the paths that are paths, as pytest would have with `=`.
    _redetermine(early_config, args)


def _redetermine(config: pytest.Config, args: list[str]) -> None:
    known = config.known_args_namespace
    offered: dict[str, Any] = {
        "inifile": known.inifilename,
        "override_ini": known.override_ini,
        "args": known.file_or_dir,
        "rootdir_cmd_arg": known.rootdir or None,
        "invocation_dir": config.invocation_params.dir,
    }
    accepted = inspect.signature(determine_setup).parameters
    rootpath, inipath, inicfg = determine_setup(**{k: v for k, v in offered.items() if k in accepted})[:3]
    if (rootpath, inipath) == (config.rootpath, config.inipath):
        return
    had_ini = config.inipath is not None
    # pytest keeps these private; they are what Config.parse set from the same call a moment ago.
    config._rootpath = rootpath
    config._inipath = inipath
    setattr(config, "_inicfg" if hasattr(config, "_inicfg") else "inicfg", inicfg)
    config._inicache.clear()
    config._parser.extra_info["rootdir"] = str(rootpath)
    config._parser.extra_info["inifile"] = str(inipath)
    if not had_ini and inipath is not None:
        # The project's addopts were not read with the ini file pytest did not find; read them now.
        args[:] = [*config.getini("addopts"), *args]
    config.known_args_namespace = known = config._parser.parse_known_args(args, namespace=copy.copy(config.option))
    if known.confcutdir is None:
        known.confcutdir = str(inipath.parent if inipath is not None else rootpath)
