"""Training code for SR Lab's networks (PSNR-oriented ``train.sr``, adversarial ``train.srgan``, ``train.export``)."""
