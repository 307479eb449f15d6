"""The cases module's plug into the online entry (网上申报, ``/apply/{id}``).

``install()`` registers ``file_application`` with
``catalogue.apply_pages.register_submit_hook``; the web app calls it when it is
created. A validated application is filed as a case by ``service.submit``
with the form's idempotency key — a retried POST finds the case it already
filed — and the applicant is sent to that case's page.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tongban.cases import service, views
from tongban.catalogue import apply_pages
from tongban.catalogue.models import ImplementationVersion


async def file_application(session: AsyncSession, application: apply_pages.Application) -> str:
    """File a validated online application (提交申请); answer the new case's page."""
    materials = []
    if application.materials:
        version = await session.get(ImplementationVersion, application.version_id)
        names = views.slot_names(views.material_slots(version.fields if version else None))
        materials = views.materials_from(application.materials, names, application.applicant)
    case, _created = await service.submit(
        session,
        application.applicant,
        implementation_id=application.implementation_id,
        form_data=application.data,
        idempotency_key=application.idempotency_key,
        channel=application.channel,
        enterprise_id=application.enterprise_id,
        materials=materials,
    )
    return f"/me/cases/{case.id}?msg=submitted"


def install() -> None:
    """Make the online entry file cases (called by ``web.app.create_app``)."""
    apply_pages.register_submit_hook(file_application)
