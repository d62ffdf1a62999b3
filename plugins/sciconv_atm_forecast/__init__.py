"""sciconv's ATM cash demand forecasting plugin: chaos (phase-space) features and deep nets on NN5-layout data."""
