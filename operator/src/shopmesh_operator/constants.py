"""Names shared by the whole operator: the API group, label keys, the field manager.

Every other module imports these instead of spelling the strings again, so a
label key or the group can change in one place.
"""

from __future__ import annotations

from typing import Final

GROUP: Final = "shopmesh.io"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
KIND: Final = "Microservice"
PLURAL: Final = "microservices"

#: The server-side-apply field manager: the operator owns exactly the fields it renders.
FIELD_MANAGER: Final = "shopmesh-operator"
#: Owns a Deployment's replicas after the operator hands them to an HPA (see reconcile.py).
HANDOVER_FIELD_MANAGER: Final = "shopmesh-operator-handover"
#: The component name on the Events the operator posts.
EVENT_SOURCE: Final = "shopmesh-operator"

LABEL_NAME: Final = "app.kubernetes.io/name"
LABEL_INSTANCE: Final = "app.kubernetes.io/instance"
LABEL_VERSION: Final = "app.kubernetes.io/version"
LABEL_COMPONENT: Final = "app.kubernetes.io/component"
LABEL_PART_OF: Final = "app.kubernetes.io/part-of"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
#: Names the Microservice a child belongs to, so child events find their owner cheaply.
LABEL_MICROSERVICE: Final = "shopmesh.io/microservice"

MANAGED_BY: Final = "shopmesh-operator"
PART_OF: Final = "shopmesh"

#: Pod label naming the release track; DestinationRule subsets select on it.
LABEL_TRACK: Final = "shopmesh.io/track"
TRACK_STABLE: Final = "stable"
TRACK_CANARY: Final = "canary"
#: The pods of a blue-green release's new version (the `<name>-preview` Service's).
TRACK_PREVIEW: Final = "preview"

#: Where every ShopMesh service serves its Prometheus metrics.
METRICS_PATH: Final = "/metrics"
