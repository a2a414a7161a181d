"""Tests of the scenario generator, its ground truth and truth matching."""
