"""What otop reads of the world, as plain records: processes (and which opencode data each
uses). Wire formats end here."""
