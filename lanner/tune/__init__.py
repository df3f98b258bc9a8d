"""``lanner tune``: turn a pile of alerts into the narrowest exceptions that silence them, check that no
must-fire test case stops firing, and write them as an override file Falco loads too."""
