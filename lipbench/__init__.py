"""lipbench: a comparative benchmark of Lipschitz constraints on GAN critics."""

__version__ = "0.1.0"
