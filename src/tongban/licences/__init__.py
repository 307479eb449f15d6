"""Electronic licences (电子证照): types, seals, identifiers, issuance, verification."""
