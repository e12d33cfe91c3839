{% include "chassis/goldenpath_chassis/admin.py" %}
