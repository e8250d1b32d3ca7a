"""cohiclust_extra: PyTorch trainers for CoHiClust and Contrastive Clustering (``pip install 'l2h[train]'``)."""
