"""The training engine: dispatcher (:mod:`.dispatcher`), Dask glue (:mod:`.cluster`,
:mod:`.tasks`), the bubblewrap sandbox (:mod:`.sandbox`, :mod:`.watch`) and the in-sandbox fold
runner (:mod:`.foldrun`). See ``docs/engine.md``."""
