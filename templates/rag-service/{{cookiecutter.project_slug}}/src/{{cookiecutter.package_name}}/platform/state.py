{% include "chassis/goldenpath_chassis/state.py" %}
