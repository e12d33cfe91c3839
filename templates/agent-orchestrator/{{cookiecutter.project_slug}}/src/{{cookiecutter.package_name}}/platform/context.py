{% include "chassis/goldenpath_chassis/context.py" %}
