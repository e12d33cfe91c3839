{% include "chassis/goldenpath_chassis/cache.py" %}
