{% include "chassis/goldenpath_chassis/guardrails.py" %}
