from civicquant.cli import main

main()
