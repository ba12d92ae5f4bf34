"""Quantization-aware training of the five schemes in PyTorch (optional extra ``train``).

* :mod:`.quantizers`: forward and backward of each scheme (BNN, BinaryConnect, XNOR-Net,
  ABC-Net, PA-Net), shift-based batch norm and AdaMax;
* :mod:`.models`: ``build_model(scheme, arch="mlp"|"cnn", ...)`` -> ``QuantNet``;
* :mod:`.data`: offline data sets (digits, the MNIST subset, Fashion-MNIST) as NumPy arrays;
* :mod:`.loop`: ``fit(scheme, dataset, ...)`` -> ``(model, TrainResult)``, seeded;
* :mod:`.export`: ``to_network(model)`` (a ``popcorn.network.Network``);
* :mod:`.run`: ``train_network(...)``, what ``popcorn train`` does;
* :mod:`.accuracy_table`: ``python -m popcorn.train.accuracy_table``.

Needs ``pip install 'popcorn[train]'`` (torch, scikit-learn, mlxtend); importing
``popcorn`` itself does not.
"""
