"""Quantization-aware training of the five schemes in PyTorch (optional extra ``train``).

``popcorn.train.quantizers`` (forward/backward of each scheme), ``models`` (MLPs, small
CNN), ``data`` (offline data sets), ``loop`` (seeded training), ``export`` (trained model ->
NumPy arrays + per-layer metadata). Needs ``pip install popcorn[train]``.
"""
