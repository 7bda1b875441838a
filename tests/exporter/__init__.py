"""Tests of promspec-exporter (a package, so its conftest and helpers never shadow those of tests/)."""
