"""Open RAMP platform for the SPIPOLL pollinating-insect challenge."""
