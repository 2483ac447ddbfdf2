"""The notebooks under tests/grading are inputs of tests/test_grading.py (a fixture assignment and prepared
hostile submissions, one of which loops forever): nbval must not collect them."""

collect_ignore_glob = ["*.ipynb"]
