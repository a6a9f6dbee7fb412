def render(features):
    return "features: " + ", ".join(features)
