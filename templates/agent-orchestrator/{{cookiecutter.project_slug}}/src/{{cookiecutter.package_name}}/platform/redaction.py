{% include "chassis/goldenpath_chassis/redaction.py" %}
