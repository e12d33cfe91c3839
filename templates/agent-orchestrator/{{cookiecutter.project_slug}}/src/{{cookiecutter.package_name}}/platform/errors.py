{% include "chassis/goldenpath_chassis/errors.py" %}
