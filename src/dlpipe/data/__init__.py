"""Image sources, the split, augmentation and the LightningDataModule."""
