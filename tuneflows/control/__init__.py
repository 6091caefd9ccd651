"""Control: the pure trial controller and the actions it asks the experiment loop to
carry out."""
