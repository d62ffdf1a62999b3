"""sciconv's medical segmentation plugin: Swin UNETR for brain tumour MRI (BraTS layout) and HybridGNet for chest
X-ray anatomy (landmark layout), with MONAI's networks, transforms, losses and metrics."""
