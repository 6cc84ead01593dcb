"""Object detection: YOLO with anchor boxes and NMS, scored by COCO mAP."""
