"""FINN's own test networks, as Brevitas defines them (``brevitas_examples.bnn_pynq``).

CNV, TFC, SFC and LFC with their ``w1a1`` / ``w2a2`` configurations, built unmodified from
the installed Brevitas (no pretrained weights: they would be a download), trained briefly on
the offline MNIST subset (:func:`popcorn.train.data.load_mnist_subset`) and exported to QONNX
as a FINN user does. ``benchmarks/finn_networks.py`` and ``tests/frontends`` use them.

* FC models (TFC, SFC, LFC) take ``(B, 1, 28, 28)`` images in [0, 1] (their graph reshapes
  them to 784 inputs); CNV takes ``(B, 3, 32, 32)``: MNIST padded by 2 pixels and replicated
  to three channels (:func:`mnist_inputs`).
* ``shrink`` builds the same Brevitas class with fewer channels (CNV: the module constants
  ``CNV_OUT_CH_POOL``, ``INTERMEDIATE_FC_FEATURES``, ``LAST_FC_IN_FEATURES``, restored
  afterwards; FC: ``out_features``) for quick tests.
* Training follows ``bnn_pynq``'s trainer in miniature: Adam, weights clipped to [-1, 1]
  after every step (their ``clip_weights``), a fixed seed; the loss is cross-entropy
  (bnn_pynq uses a squared hinge loss; the point here is real weights and BatchNorm
  statistics, not accuracy).
* The export freezes the batch size into the graph's Reshape: qonnx's executor must then be
  fed batches of exactly that size; popcorn ignores the batch axis.
"""

import contextlib

import numpy as np

__all__ = ["NETWORKS", "build", "mnist_inputs", "train", "export"]

#: name -> (bnn_pynq config, architecture)
NETWORKS = {"tfc_1w1a": "FC", "tfc_2w2a": "FC", "sfc_1w1a": "FC", "sfc_2w2a": "FC",
            "lfc_1w1a": "FC", "cnv_1w1a": "CNV", "cnv_2w2a": "CNV"}


@contextlib.contextmanager
def _cnv_constants(out_ch_pool, fc_features):
    from brevitas_examples.bnn_pynq.models import CNV as cnv_module

    names = ("CNV_OUT_CH_POOL", "INTERMEDIATE_FC_FEATURES", "LAST_FC_IN_FEATURES")
    saved = {n: getattr(cnv_module, n) for n in names}
    cnv_module.CNV_OUT_CH_POOL = list(out_ch_pool)
    cnv_module.INTERMEDIATE_FC_FEATURES = list(fc_features)
    cnv_module.LAST_FC_IN_FEATURES = fc_features[-1][1]
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(cnv_module, name, value)


def build(name, shrink=None, seed=0):
    """The ``bnn_pynq`` model ``name`` (a key of :data:`NETWORKS`), freshly initialised.

    ``shrink``: CNV: ``(conv channels (6 values), fc features (2 values))``, e.g.
    ``((8, 8, 16, 16, 16, 16), (32, 32))``; FC: the hidden layer widths, e.g. ``(32, 32, 32)``.
    """
    import torch
    from brevitas_examples.bnn_pynq.models import model_with_cfg
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant  # noqa: F401 (import check)

    if name not in NETWORKS:
        raise ValueError(f"network must be one of {', '.join(NETWORKS)}, not {name!r}")
    torch.manual_seed(seed)
    if shrink is None:
        model, _ = model_with_cfg(name, pretrained=False)
    elif NETWORKS[name] == "CNV":
        channels, features = shrink
        pools = (False, True, False, True, False, False)
        fc = [(channels[-1], features[0]), (features[0], features[1])]
        with _cnv_constants(zip(channels, pools), fc):
            model, _ = model_with_cfg(name, pretrained=False)
    else:
        from brevitas_examples.bnn_pynq.models import FC
        from brevitas_examples.bnn_pynq.models import get_model_cfg

        cfg = get_model_cfg(name)
        model = FC.FC(num_classes=cfg.getint("MODEL", "NUM_CLASSES"),
                      weight_bit_width=cfg.getint("QUANT", "WEIGHT_BIT_WIDTH"),
                      act_bit_width=cfg.getint("QUANT", "ACT_BIT_WIDTH"),
                      in_bit_width=cfg.getint("QUANT", "IN_BIT_WIDTH"),
                      in_channels=cfg.getint("MODEL", "IN_CHANNELS"), out_features=list(shrink))
    return model


def mnist_inputs(images, name):
    """``uint8`` MNIST images (B, 28, 28) as the model's float32 input in [0, 1]: FC
    ``(B, 1, 28, 28)``; CNV ``(B, 3, 32, 32)`` (zero-padded by 2, three equal channels)."""
    x = np.asarray(images, dtype=np.float32) / 255.0
    if NETWORKS[name] == "CNV":
        x = np.pad(x, ((0, 0), (2, 2), (2, 2)))
        return np.repeat(x[:, None], 3, axis=1)
    return x[:, None]


def train(model, x, y, steps, batch=64, lr=0.02, seed=0, progress=None):
    """``steps`` Adam steps of cross-entropy on random batches of (x, y), weights clipped to
    [-1, 1] after each; returns the model in eval mode. ``progress(step, loss)`` is called
    every 50 steps."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    x = torch.as_tensor(x, dtype=torch.float32)
    y = torch.as_tensor(y, dtype=torch.int64)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for step in range(steps):
        index = torch.randint(0, len(x), (batch,), generator=gen)
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x[index]), y[index])
        loss.backward()
        optimizer.step()
        model.clip_weights(-1.0, 1.0)
        if progress is not None and (step + 1) % 50 == 0:
            progress(step + 1, float(loss))
    return model.eval()


def export(model, x, path):
    """``export_qonnx(model, x, path, dynamo=False)`` in eval mode; ``x`` fixes the batch."""
    import torch
    from brevitas.export import export_qonnx

    model.eval()
    export_qonnx(model, torch.as_tensor(np.asarray(x), dtype=torch.float32), str(path),
                 dynamo=False)
    return path
