"""Stand-ins for the course's helper modules. This directory (not the package) is put on
the child process's ``sys.path``, so a learner's ``from rnn_utils import *`` finds them."""
