"""Every domain's models, imported once so ``Base.metadata`` is complete
(Alembic autogenerate, the test fixtures)."""

from tongban.cases import models as cases_models  # noqa: F401
from tongban.cases import supervision as cases_supervision  # noqa: F401
from tongban.catalogue import models as catalogue_models  # noqa: F401
from tongban.core import audit, files, outbox, workdays  # noqa: F401
from tongban.core.db import Base
from tongban.identity import models as identity_models  # noqa: F401
from tongban.licences import models as licences_models  # noqa: F401
from tongban.licences import wallet_models as licences_wallet_models  # noqa: F401
from tongban.regions import models as regions_models  # noqa: F401
from tongban.search import models as search_models  # noqa: F401

metadata = Base.metadata
