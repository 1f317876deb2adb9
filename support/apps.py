from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "support"
    verbose_name = "Support"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from didcomm import dispatch
        from didcomm.models import InboundMessage
        from makers.links import OrganisationLink, register_organisation_link
        from support import panel, protocol, receive
        from twins import events

        for key in protocol.TYPES:
            dispatch.register_handler(key, receive.support_receive)
        # Plain Aries agents: their basic messages and problem reports on a case's connection (support.receive).
        post_save.connect(receive.on_inbound_saved, sender=InboundMessage, dispatch_uid="support-inbound")
        panel.connect()
        register_organisation_link(OrganisationLink(label="Support cases", url_name="org-support"))
        events.subscribe(events.Transferred, receive.on_transferred)
