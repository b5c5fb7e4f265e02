"""Light-curve features of Rubin and ZTF alerts: the computed ``objects`` columns.

:func:`compute_features` turns a batch of normalised alerts (:class:`solas.surveys.Alert`)
into one ``objects`` row per alert with exactly the columns of that survey's ``objects``
table (:mod:`solas.schema.tables`; all but ``timestamp``).  Statistics are vectorised
over the whole batch (all points of the batch in flat arrays with an object index,
reduced with ``np.bincount``/``ufunc.at``); only the Rubin Bazin/exponential black-body
fits run per object (scipy), bounded in cost.  Definitions and units are in the module
docstrings: :mod:`solas.features.lsst`, :mod:`solas.features.ztf`,
:mod:`solas.features.colour`, :mod:`solas.features.bazin`,
:mod:`solas.features.distance`, :mod:`solas.features.sky`.
"""
from solas.features.compute import (compute_feature_columns, compute_features,
                                    object_columns)
from solas.features.points import FeatureError
from solas.features.ztf import MIN_RATE_INTERVAL_S

__all__ = ["MIN_RATE_INTERVAL_S", "FeatureError", "compute_feature_columns",
           "compute_features", "object_columns"]
