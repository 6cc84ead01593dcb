"""Object detection (``task: detect``), being built: its NMS, anchors and sliding windows."""
