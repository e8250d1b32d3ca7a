"""cohiclust_extra: PyTorch trainers for CoHiClust and Contrastive Clustering (``pip install 'l2h[train]'``).

Modules
-------
tree        level probabilities in log space, leaf masks, pruning, the native tree as an ``l2h.Hierarchy``
losses      CoHiLoss (closed form, O(B·2^T)), its pairwise reference, NT-Xent, CC's cluster loss
heads       tree head π (2^T − 1 node logits + leaf mask), projection head, CC cluster head
backbones   torchvision ResNet-18/34/50 (optional CIFAR stem, no downloads), small CNN, MLP
models      ``CoHiClustModel``, ``CCModel``
augment     SimCLR-style batched augmentations, one recipe per resolution
data        datasets read from disk (digits, CIFAR-10/100, STL-10, image folders, .npy features)
config      ``TrainConfig`` and per-dataset defaults
checkpoint  atomic resumable checkpoints; loader for the official CoHiClust checkpoint layout
nets        the backbone torch modules that ``backbones`` chooses among by name
loader      DataLoaders for training and inference: batches, worker processes, the per-rank sampler
device      ``resolve_device``: CUDA, then MPS, then the CPU, chosen at run time
distributed data-parallel training under ``torchrun``: process group, gathers, global batch norm
training    ``train(config, run_dir)``, ``predict(run_dir, out_dir)``: the loop and the run folder
pretrained  ``compute_logits``: logits of a pretrained torchvision/timm classifier over images (``l2h logits``)

Nothing here is imported by ``l2h`` itself; the ``l2h train`` / ``l2h predict`` commands import it lazily.
"""

__all__: list[str] = []  # the API lives in the modules above
