"""Human label noise: CIFAR-10N and CIFAR-100N (Wei et al., ICLR 2022).

Wei, Zhu, Cheng, Liu, Niu & Liu, "Learning with Noisy Labels Revisited: A
Study Using Real-World Human Annotations", ICLR 2022, re-labelled every
CIFAR training image by Amazon Mechanical Turk workers. TensorFlow
Datasets ships them as `cifar10_n` and `cifar100_n`: the CIFAR images and
clean `label`, and per training image the human labels. `LABEL_SETS` names
them as `noise_kind="human"` chooses them:

| dataset | label set | TFDS feature | what it is |
|---|---|---|---|
| cifar10_n | `aggre` | `aggre_label` | majority vote of three workers |
| cifar10_n | `random1`..`random3` | `random_label1`..`3` | one worker's label |
| cifar10_n | `worse` | `worse_label` | a wrong label among the three if any |
| cifar100_n | `noisy` | `noise_label` | one worker's fine label |

`Dataset.human_noise_rate` measures the fraction of a set's labels that
differ from the clean ones on the loaded data. The test split has no human
labels.

TFDS needs the label files by hand (`MANUAL_FILES`, from
`SOURCE_URL`) in `<data_dir>/downloads/manual/`, where `data_dir` is
`load_dataset`'s or TFDS's default (`~/tensorflow_datasets`);
`manual_download_error` says so in one line.
"""

import os

# Label-set name -> TFDS feature, per dataset.
LABEL_SETS = {
    "cifar10_n": {
        "aggre": "aggre_label",
        "random1": "random_label1",
        "random2": "random_label2",
        "random3": "random_label3",
        "worse": "worse_label",
    },
    "cifar100_n": {"noisy": "noise_label"},
}

SOURCE_URL = "https://github.com/UCSC-REAL/cifar-10-100n"

# What TFDS reads from its manual directory, and the annotation file it is
# converted from (TFDS's MANUAL_DOWNLOAD_INSTRUCTIONS).
MANUAL_FILES = {
    "cifar10_n": (
        "CIFAR-10_human_annotations.csv",
        "side_info_cifar10N.csv",
        "image_order_c10.npy",
    ),
    "cifar100_n": (
        "CIFAR-100_human_annotations.csv",
        "side_info_cifar100N.csv",
        "image_order_c100.npy",
    ),
}
_ANNOTATIONS_DOWNLOAD = {
    "cifar10_n": "CIFAR-10_human_ordered.npy",
    "cifar100_n": "CIFAR-100_human_ordered.npy",
}


def manual_dir(name, data_dir=None):
    """The directory where TFDS looks for the manual files of `name`."""
    import tensorflow_datasets as tfds

    root = tfds.builder(name, data_dir=data_dir).data_dir_root
    return os.path.join(os.fspath(root), "downloads", "manual")


def manual_download_error(name, data_dir=None):
    """A one-line `FileNotFoundError` when a manual file is missing, else None.

    Args:
        name: `"cifar10_n"` or `"cifar100_n"`.
        data_dir: The TFDS data directory; `None` for TFDS's default.

    Returns:
        The error saying what to download from where and where to put it
        (TFDS's own instructions), or `None` when all files are there.
    """
    directory = manual_dir(name, data_dir)
    missing = [
        file
        for file in MANUAL_FILES[name]
        if not os.path.isfile(os.path.join(directory, file))
    ]
    if not missing:
        return None
    annotations, side_info, order = MANUAL_FILES[name]
    return FileNotFoundError(
        f"{name} needs its human labels downloaded by hand: get "
        f"{_ANNOTATIONS_DOWNLOAD[name]}, {side_info} and {order} from "
        f"{SOURCE_URL}, convert {_ANNOTATIONS_DOWNLOAD[name]} to "
        f"{annotations} (pandas.DataFrame(np.load(path, allow_pickle=True)"
        f"[()]).to_csv(index=False), as tfds.builder({name!r})."
        f"MANUAL_DOWNLOAD_INSTRUCTIONS shows) and put {annotations}, "
        f"{side_info} and {order} in {directory} (missing: "
        f"{', '.join(missing)})"
    )
