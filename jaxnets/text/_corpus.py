"""An English text available offline: the licence texts every Debian system ships."""

import pathlib

LICENCES = pathlib.Path("/usr/share/common-licenses")
HELD_OUT = "MPL-2.0"


def licence_corpus(directory=LICENCES) -> dict[str, str]:
    """The licence texts of ``/usr/share/common-licenses`` (Debian's base-files).

    About 250 KB of legal English in 14 files (Apache, Artistic, BSD, CC0, GFDL,
    GPL, LGPL and MPL versions; symbolic links skipped). The Mozilla Public Licence
    2.0 is held out: a licence the model has not read, though it shares the genre.

    Returns:
      ``{"train": ..., "test": ...}``: the other files joined in name order, and
      MPL-2.0.
    """
    directory = pathlib.Path(directory)
    files = sorted(p for p in directory.glob("*") if p.is_file() and not p.is_symlink())
    if not any(p.name == HELD_OUT for p in files):
        raise FileNotFoundError(
            f"licence_corpus: no {HELD_OUT} in {directory}; Debian and Ubuntu ship these "
            "texts in the base-files package (apt-get install --reinstall base-files)."
        )
    texts = {p.name: p.read_text(encoding="utf-8", errors="replace") for p in files}
    test = texts.pop(HELD_OUT)
    return {"train": "\n".join(texts[name] for name in sorted(texts)), "test": test}
