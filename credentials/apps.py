from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    name = "credentials"
    verbose_name = "Credentials"

    def ready(self) -> None:
        from core.nav import OWNER, NavLink, register_nav
        from credentials import holder_keys, keepers, selectors, services
        from owners.signals import owner_key_registered
        from twins import access, events, panels
        from twins.demo import register_demo_step

        # In the sender's transaction: the credential (and the seller's revocation) commit or roll back with it.
        events.subscribe(events.TwinCreated, services.on_twin_created, in_transaction=True)
        events.subscribe(events.Transferred, services.on_transferred, in_transaction=True)
        # A self-held key changes the owner's holder DID: their credentials follow it, in the same transaction.
        owner_key_registered.connect(holder_keys.on_owner_key_registered, dispatch_uid="credentials-reissue")
        # Keepers, service parties and emergency links of the seller's end with the sale, in its transaction.
        events.subscribe(events.Transferred, keepers.on_transferred, in_transaction=True)
        access.register_provider("credentials", keepers.provider, keepers.kept)
        from credentials import list_filter

        list_filter.connect()  # ?keeper= on the things list
        panels.register_link(panels.Link("Keepers", "thing-keepers", panels.HEADER, 60))
        panels.register_link(panels.Link("Service access", "thing-service-access", panels.HEADER, 61))
        register_nav(NavLink("Emergency", "emergency-grants", OWNER, 55))
        panels.register_panel(
            panels.Panel(
                "credentials",
                "credentials/_panel_credentials.html",
                panels.AFTER_PUBLIC,
                30,
                selectors.thing_credentials_panel,
            )
        )
        register_nav(NavLink("Credentials", "credential-wallet", OWNER, 50))
        register_demo_step(services.demo_policy)
