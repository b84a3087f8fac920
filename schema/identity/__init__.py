"""Members' profiles: ``me``, ``member``, ``registerMember``, ``updateMyProfile``."""
