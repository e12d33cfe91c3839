{% include "chassis/goldenpath_chassis/__init__.py" %}
