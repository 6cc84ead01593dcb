"""3-D convolution: clips and volumes (C×D×H×W) classified, the third axis time or depth."""
