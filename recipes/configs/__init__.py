"""Experiment configs: one Python file per experiment.

Each file has a `get_config(arg=None)` returning a `recipes.config` config
and, for a sweep, a `get_sweep(arg=None)` returning its points (dicts of
overrides) and `ARGUMENTS`, the arguments `arg` takes with their defaults
(`recipes.configs.common`: which of them narrows each field a point sets).
`recipes.main` runs the file once. Its docstring gives the command that
launches it, e.g.

    python -m recipes.main --config=recipes/configs/default.py --workdir=runs/one

- `default`: one run (every field of `recipes.config` at its default).
- `quickstart`: CE against MAE*, genCE and boundCE on the offline digits.
- `table2`, `table3`: paper Tables 2 and 3.
- `lr_grid`: supplement Table 1, the MLP1024 learning-rate grid.

`recipes.main` finds them by name (`--config=table2`) where `recipes` is
installed, so they run from any directory.
"""
