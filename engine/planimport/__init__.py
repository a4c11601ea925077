"""Draft rules from a plan document; roll rules over to a new year; replaced documents."""
