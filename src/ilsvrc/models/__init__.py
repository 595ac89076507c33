"""The models: LeNet-5 and the AlexNet family, each exactly as published.

    from ilsvrc.models import create_model, list_models
    model = create_model("alexnet", num_classes=1000)
    logits = model(images)                       # forward_head(forward_features(images))
"""
from ilsvrc.models.registry import config_to_dict, create_model, list_models, model_from_config

__all__ = ["create_model", "list_models", "model_from_config", "config_to_dict"]
