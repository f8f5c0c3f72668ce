"""Interpretation of spotted expressions: AU-prototype emotions, onset-apex flow features, learned recognisers.

Torch is imported only inside the training and export functions; onnxruntime only inside inference.
"""
