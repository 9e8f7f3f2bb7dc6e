"""The training debugger. So far: anomaly mode (find the first NaN/Inf and its op)."""
from .anomaly import (AnomalyError, SourceLine, detect_anomaly, is_anomaly_check_nan_enabled,
                      is_anomaly_enabled, set_detect_anomaly)
