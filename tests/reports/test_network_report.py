"""The report dict: the integer golden model's confusion matrix."""

from types import SimpleNamespace

import numpy as np

from popcorn.reports.network_report import confusion_matrix, network_report


def test_confusion_matrix_counts_the_labelled_images():
    labels = np.array([0, 1, 1, 2, 2, 0])            # one more label than predictions
    pred = np.array([0, 2, 1, 2, 0])
    assert confusion_matrix(labels, pred, 3) == [[1, 0, 0], [0, 1, 1], [1, 0, 1]]


def small_report(labels):
    layer = {"layer": 0, "kind": "dense", "fan_in": 4, "channels": 3, "weight_bases": 1,
             "act_bases": 1, "pe": 1, "simd": 4, "cycles_per_vector": 3, "vectors": 1}
    plan = SimpleNamespace(
        summary=lambda: [layer], classes=3, cycles_per_image=3, latency=7,
        network=SimpleNamespace(input_shape=(4,),
                                input_quantizer=SimpleNamespace(quantizer="fixedpoint")),
        integer=SimpleNamespace(frac_bits=8))
    pred = SimpleNamespace(argmax=np.array([0, 2, 1, 1]))
    return network_report(
        name="small", plan=plan, labels=labels, float_pred=pred, int_pred=pred,
        rtl_argmax=pred.argmax[:2],
        measured={"interval": 3, "latency": 7, "images": 2, "simulator": "icarus"},
        impl=SimpleNamespace(fmax_mhz=30.0, clock_mhz=12.0, to_dict=lambda: {}),
        bitstream="top.bin", estimate=SimpleNamespace(to_dict=lambda: {}))


def test_network_report_has_the_confusion_matrix_only_with_labels():
    report = small_report(np.array([0, 1, 1, 2]))      # predicted 0, 2, 1, 1
    assert report["confusion"] == [[1, 0, 0], [0, 1, 1], [0, 1, 0]]
    assert "confusion" not in small_report(None)
