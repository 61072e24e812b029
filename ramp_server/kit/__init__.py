"""The challenge kit: what a participant needs to run ``ramp-test`` (no server dependencies).

- :mod:`ramp_server.kit.taxa`: the 18 taxa (ids, names, counts)
- :mod:`ramp_server.kit.labels`: reading and validating the CSVs (``id,class``, ``class,taxon``)
- :mod:`ramp_server.kit.dataset`: the decoded 64×64 image cache, public bundle (re-exports labels)
- :mod:`ramp_server.kit.workflow`: the image-preprocessor + batch-classifier workflow
  (:mod:`ramp_server.kit.gen_builder`: the ``gen_builder`` given to ``fit``;
  :mod:`ramp_server.kit.checkpoint`: its per-epoch checkpoints)
- :mod:`ramp_server.kit.contract`: submission contract and prediction checks
  (:mod:`ramp_server.kit.checker`: the contract, then a fit/predict on tiny data)
- :mod:`ramp_server.kit.scoring`: loading/checking a problem.py, scoring and bagging
- :mod:`ramp_server.kit.folds`: cross-validation folds and the quick-test subset
- :mod:`ramp_server.kit.subset`, :mod:`ramp_server.kit.epochs`, :mod:`ramp_server.kit.folder`:
  a stratified data subset, a submission with fewer epochs, an event's kit folder (the demo)
"""
